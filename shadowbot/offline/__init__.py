"""History in and out: reading recorded pull requests, the backtest, and its reports."""
