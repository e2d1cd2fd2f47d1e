"""The worker entrypoint: taskiq broker factory, the record task, the kind → work registry, embedded mode."""
