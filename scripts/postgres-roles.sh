#!/usr/bin/env bash
# Run once by the postgres image when its data directory is first made (docker-compose.yml mounts it
# into /docker-entrypoint-initdb.d), as the superuser. It makes the two roles of README's "Tamper
# evidence with an anchor": ktpledger_owner owns the database and runs the migrations; ktpledger_app
# is the service's role, to which `ktpledger db upgrade --grant ktpledger_app` (the migrate service)
# gives INSERT and SELECT on the ledger and nothing that could change it.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v owner_password="${KTPLEDGER_OWNER_PASSWORD:?set KTPLEDGER_OWNER_PASSWORD}" \
    -v app_password="${KTPLEDGER_APP_PASSWORD:?set KTPLEDGER_APP_PASSWORD}" <<'SQL'
CREATE ROLE ktpledger_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE ktpledger_app LOGIN PASSWORD :'app_password';
CREATE DATABASE ktpledger OWNER ktpledger_owner;
REVOKE ALL ON DATABASE ktpledger FROM PUBLIC;
GRANT CONNECT ON DATABASE ktpledger TO ktpledger_owner, ktpledger_app;
SQL

# The service's role may use the schema the owner migrates, never create in it.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname ktpledger <<'SQL'
ALTER SCHEMA public OWNER TO ktpledger_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
