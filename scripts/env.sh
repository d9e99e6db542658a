# Sourced by the scripts: the environment every trytond process of this
# checkout runs with.  Values already set in the environment win.
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export TRYTOND_CONFIG=${TRYTOND_CONFIG:-$ROOT/tryton.conf}
export TRYTOND_DATABASE__PATH=${TRYTOND_DATABASE__PATH:-$ROOT/var/db}
export TRYTOND_WEB__ROOT=${TRYTOND_WEB__ROOT:-$ROOT/var/sao}
if [ -z "${TRYTOND_MINIPROGRAM__JWT_SECRET:-}" ] && [ -s "$ROOT/var/jwt_secret" ]; then
    TRYTOND_MINIPROGRAM__JWT_SECRET=$(cat "$ROOT/var/jwt_secret")
    export TRYTOND_MINIPROGRAM__JWT_SECRET
fi
