"""The AI: encoder, vector index, classifiers, bundles, suggestions, tickets, training and the CLI."""
