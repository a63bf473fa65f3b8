"""ETA forecasts of open purchase order lines, learned from each supplier's receipt history.

refresh.refresh_forecasts is the use case and refresh.forecast_job its
worker job. history reads the database, models and backtest are pure
functions over frames and arrays, and evaluate scores the method on a
train and test split of a history.
"""
