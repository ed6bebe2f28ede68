"""Service layer: each public function is one command or query, run as one transaction."""
