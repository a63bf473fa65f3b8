"""Administration use cases: business settings, message templates, users and roles, each audited."""
