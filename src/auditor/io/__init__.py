"""Reading inputs (tables, models, predictions) and writing outputs atomically."""
