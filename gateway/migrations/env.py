from core.db import run_migration_env

run_migration_env()
