#!/bin/sh
# Temporal's schemas in the compose stack's PostgreSQL (deploy/compose.yaml, service temporal-setup): creates the
# databases temporal and temporal_visibility if missing and brings both schemas to this admin-tools image's version.
set -eu
ep=postgresql
user="${POSTGRES_USER:-reelforge}"
echo "waiting for PostgreSQL at $ep:5432"
until nc -z -w 5 "$ep" 5432; do sleep 1; done
for db in temporal temporal_visibility; do
  case "$db" in temporal) dir=temporal ;; *) dir=visibility ;; esac
  temporal-sql-tool --plugin postgres12 --ep "$ep" -u "$user" -p 5432 --db "$db" create || true
  temporal-sql-tool --plugin postgres12 --ep "$ep" -u "$user" -p 5432 --db "$db" setup-schema -v 0.0 || true
  temporal-sql-tool --plugin postgres12 --ep "$ep" -u "$user" -p 5432 --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$dir/versioned"
done
echo "Temporal's schemas are current"
