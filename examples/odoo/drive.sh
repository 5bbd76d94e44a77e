#!/bin/sh
# Plays Odoo's side of the example: quotations confirmed, deliveries and a receipt moving stock
# across the reorder minimum. ODOO_DSN is the database schema.sql was loaded into.
set -eu
: "${ODOO_DSN:?set ODOO_DSN to the example database, e.g. postgresql://user:pw@localhost/odoo_demo}"
exec psql "$ODOO_DSN" -v ON_ERROR_STOP=1 -q -f "$(dirname "$0")/drive.sql"
