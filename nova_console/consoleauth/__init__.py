TOPIC = "consoleauth"
