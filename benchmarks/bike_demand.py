"""Seeded hourly bike-rental demand in the layout of Kaggle's bike-sharing-demand, for
`benchmarks/leaderboard.py`: a time-ordered competition whose test is other days of each month.

    python benchmarks/bike_demand.py OUT.csv [--seed 0]    # writes the two years of hours

Two years of hours (2011-2012), the columns Kaggle's train.csv has: `datetime`
("2011-01-01 05:00:00"), season, holiday, workingday, weather, temp, atemp, humidity, windspeed,
casual, registered, count. Demand follows what drives the real one: hour of day x working day
(commute peaks on working days, a midday hump otherwise), weekday, season, temperature, weather
and a yearly upward trend, times a day-level effect every hour of a day shares (events, weather
the columns miss) and hourly noise. The day effect is why folds of random hours score better
than later days: an hour's neighbours of the same day tell the model that day's level.
Kaggle's split is days 1-19 of each month for train and 20-31 for test (`TEST_FIRST_DAY`).
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta

import numpy as np
import pandas as pd

TEST_FIRST_DAY = 20  # Kaggle's bike-sharing-demand: days 20-31 of each month are the test
YEARS = (2011, 2012)
MISSING_HOURS = 0.01  # share of hours left out, as the real log lacks some hours
WEATHER_FACTOR = np.array([1.0, 0.85, 0.45, 0.15])  # clear, mist, light rain, heavy rain
SEASON_FACTOR = np.array([0.55, 1.0, 1.1, 0.9])  # Kaggle's seasons: 1 = Jan-Mar ... 4 = Oct-Dec
WEEKDAY_FACTOR = np.array([0.95, 1.0, 1.02, 1.0, 1.05, 1.1, 0.95])  # Monday .. Sunday
DAY_SIGMA = 0.25  # log-scale sd of the day effect every hour of that day shares
HOUR_SIGMA = 0.2  # log-scale sd of each hour's own noise

# Registered riders by hour: commute peaks on working days, a midday hump on other days.
WORKDAY_PROFILE = np.array([20, 8, 5, 3, 4, 25, 100, 300, 480, 250, 120, 150, 190, 185, 165, 180,
                            270, 520, 480, 340, 240, 170, 120, 70], dtype=float)
OFFDAY_PROFILE = np.array([60, 45, 35, 15, 5, 5, 12, 35, 80, 140, 200, 250, 280, 280, 270, 265,
                           255, 240, 210, 160, 120, 100, 85, 60], dtype=float)
CASUAL_PROFILE = np.array([4, 3, 2, 1, 1, 1, 3, 8, 15, 25, 40, 55, 65, 70, 72, 72, 68, 60, 48,
                           35, 25, 18, 12, 7], dtype=float)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-based; -1 = last) given weekday (0 = Monday) of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def holidays(year: int) -> set[date]:
    """US federal holidays (the real data's holiday flag), observed on a weekday."""
    fixed = [date(year, 1, 1), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    observed = {d + timedelta(days={5: -1, 6: 1}.get(d.weekday(), 0)) for d in fixed}
    return observed | {_nth_weekday(year, 1, 0, 3), _nth_weekday(year, 2, 0, 3), _nth_weekday(year, 5, 0, -1),
                       _nth_weekday(year, 9, 0, 1), _nth_weekday(year, 10, 0, 2), _nth_weekday(year, 11, 3, 4)}


def _daily_weather(rng: np.random.Generator, n_days: int) -> np.ndarray:
    """A weather state 0-3 per day from a Markov chain: spells of clear, mist and rain."""
    stay = np.array([[0.75, 0.18, 0.06, 0.01], [0.45, 0.40, 0.13, 0.02],
                     [0.45, 0.30, 0.23, 0.02], [0.40, 0.30, 0.25, 0.05]])
    states = np.empty(n_days, dtype=int)
    states[0] = 0
    for day in range(1, n_days):
        states[day] = rng.choice(4, p=stay[states[day - 1]])
    return states


def generate(seed: int = 0) -> pd.DataFrame:
    """Two years of hourly demand; the same seed gives the same frame."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(f"{YEARS[0]}-01-01", f"{YEARS[-1]}-12-31 23:00", freq="h")
    days = times.normalize()
    day_index = np.asarray((days - days[0]).days)
    n_days = int(day_index.max()) + 1
    hour, month, weekday = times.hour.to_numpy(), times.month.to_numpy(), times.weekday.to_numpy()

    off = {d for year in YEARS for d in holidays(year)}
    holiday = np.array([d.date() in off for d in days], dtype=int)
    workingday = ((weekday < 5) & (holiday == 0)).astype(int)
    season = (month - 1) // 3 + 1

    day_weather = _daily_weather(rng, n_days)
    hourly_shift = rng.random(len(times)) < 0.15  # an hour's weather may differ from its day's
    weather = np.where(hourly_shift, np.clip(day_weather[day_index] + rng.choice([-1, 1], len(times)), 0, 3),
                       day_weather[day_index])
    day_temp = 16 - 11 * np.cos(2 * np.pi * (np.arange(n_days) % 365 - 20) / 365)
    day_temp = day_temp + np.convolve(rng.normal(0, 3.0, n_days + 4), np.ones(5) / np.sqrt(5), "valid")
    temp = day_temp[day_index] + 3.5 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 0.8, len(times))
    humidity = np.clip(55 + 12 * weather - 1.0 * (temp - 16) - 8 * np.sin(2 * np.pi * (hour - 9) / 24)
                       + rng.normal(0, 10, len(times)), 8, 100)
    windspeed = np.clip(rng.gamma(2.2, 5.8, len(times)) + 2 * weather, 0, 57)
    atemp = temp + np.where(temp > 24, 0.08 * (humidity - 50), 0) - np.where(temp < 12, 0.25 * windspeed, 0)
    atemp = atemp + rng.normal(0, 0.6, len(times))

    trend = np.exp(0.45 * day_index / 365.0)  # the service grows through the two years
    comfort = np.exp(-(((temp - 24) / 11.0) ** 2))  # riders like ~24 C, avoid cold and heat
    level = (SEASON_FACTOR[season - 1] * WEATHER_FACTOR[weather] * WEEKDAY_FACTOR[weekday]
             * (0.35 + 0.65 * comfort) * trend)
    day_effect = np.exp(rng.normal(-DAY_SIGMA**2 / 2, DAY_SIGMA, n_days))[day_index]
    noise = np.exp(rng.normal(-HOUR_SIGMA**2 / 2, HOUR_SIGMA, (2, len(times))))
    profile = np.where(workingday == 1, WORKDAY_PROFILE[hour], OFFDAY_PROFILE[hour])
    registered = rng.poisson(profile * level * day_effect * noise[0])
    casual_day = np.where(workingday == 1, 0.35, 1.6)
    casual = rng.poisson(1.2 * CASUAL_PROFILE[hour] * casual_day * level * comfort * day_effect * noise[1])

    frame = pd.DataFrame({
        "datetime": times.strftime("%Y-%m-%d %H:%M:%S"), "season": season, "holiday": holiday,
        "workingday": workingday, "weather": weather + 1, "temp": np.round(temp, 2),
        "atemp": np.round(atemp, 3), "humidity": np.round(humidity).astype(int),
        "windspeed": np.round(windspeed, 4), "casual": casual, "registered": registered,
        "count": casual + registered})
    frame = frame[frame["count"] > 0]  # the real log has no hour without a ride
    keep = rng.random(len(frame)) >= MISSING_HOURS
    return frame[keep].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="CSV to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    frame = generate(args.seed)
    frame.to_csv(args.out, index=False)
    print(f"{len(frame)} hours -> {args.out}")


if __name__ == "__main__":
    main()
