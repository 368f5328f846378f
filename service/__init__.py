"""The web service: a thin Flask shell around sentiment.inference.predictor.Predictor."""
