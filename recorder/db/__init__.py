"""The SQL database: typed models, engine set-up, migrations, writes and reads."""
