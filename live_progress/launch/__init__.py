"""Running the whole service on one machine: a local Redis when needed, then the Procfile."""
