"""House Prices pipeline: Kaggle data -> features -> k-fold CV -> final fit -> submission."""
