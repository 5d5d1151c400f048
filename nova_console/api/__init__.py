TOPIC = "console-api"
