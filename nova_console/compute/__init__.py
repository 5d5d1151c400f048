TOPIC = "compute"
