"""Built-in policy packs (YAML data), shipped as package data of readiness.policies."""
