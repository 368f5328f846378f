"""The web service: a thin Flask shell around sentiment.predictor.Predictor."""
