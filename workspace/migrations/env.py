"""Alembic's entry: run the migrations on the connection workspace.store hands over (no alembic.ini)."""
from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
