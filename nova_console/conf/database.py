"""[database]: the SQL database of the API and consoleauth services."""
from oslo_config import cfg

database_group = cfg.OptGroup("database", title="Database options")

database_opts = [
    cfg.StrOpt("connection", secret=True,
               default="sqlite:///$state_path/nova_console.sqlite",
               help="SQLAlchemy URL of the database shared by nova-console-api and "
                    "nova-consoleauth, e.g. postgresql://user:pw@db/nova_console or "
                    "mysql+pymysql://user:pw@db/nova_console. Compute hosts never need it."),
    cfg.IntOpt("max_pool_size", default=5, min=1,
               help="Connections kept open per process (PostgreSQL/MySQL)."),
    cfg.IntOpt("max_overflow", default=50, min=0,
               help="Connections opened beyond max_pool_size under load."),
    cfg.IntOpt("pool_timeout", default=30, min=1,
               help="Seconds to wait for a free connection from the pool."),
]


def register_opts(conf):
    conf.register_group(database_group)
    conf.register_opts(database_opts, group=database_group)


def list_opts():
    return {database_group: database_opts}
