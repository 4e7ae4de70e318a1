"""HTTP controllers: validate, call one service function, shape the response."""
