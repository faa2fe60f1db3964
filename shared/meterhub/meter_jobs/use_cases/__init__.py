"""What the meter jobs API, its worker and the jobs stream do."""
