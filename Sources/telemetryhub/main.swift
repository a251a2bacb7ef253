_ = processStart  // start the clock before anything else, for "ready … ms after start"
await TelemetryHubCommand.start()
