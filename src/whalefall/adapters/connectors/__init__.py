"""Engine connectors behind the connector port: one package per engine, reached only through the registry."""
