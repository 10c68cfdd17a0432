"""The metric model: what a metric is (model) and every metric the hub knows (catalogue)."""
