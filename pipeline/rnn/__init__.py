"""Modern RNN experiments: RNN/GRU/LSTM language models from scratch and with torch.nn."""
