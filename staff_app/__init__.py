"""The bureau staff's screens (supervisors, reviewers): online only, they reach the bureau over its HTTP API
through `staff_client` and never open the tablet's store."""
