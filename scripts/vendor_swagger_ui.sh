#!/bin/sh
# Vendors Swagger UI (the npm package swagger-ui-dist, at the version given, e.g. 5.35.0) into the Lambda layer,
# where the API reference function serves it at GET /docs (no CDN: the page works offline in `make run`).
# Only what the page loads, plus the package's licence files, is kept: swagger-ui-bundle.js and swagger-ui.css
# (no standalone preset, no source maps, no ES bundles). `make swagger-ui` runs it with the pinned version.
set -eu
version=${1:?usage: scripts/vendor_swagger_ui.sh <swagger-ui-dist version>}
cd "$(dirname "$0")/.."
target=shared/meterhub/platform/api/reference/swagger-ui
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# npm pack fetches the published tarball and checks it against the registry's integrity hash.
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null)
tar -xzf "$work/swagger-ui-dist-$version.tgz" -C "$work"
rm -rf "$target"
mkdir -p "$target"
for file in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE package.json; do
  cp "$work/package/$file" "$target/$file"
done
echo "Vendored swagger-ui-dist $version into $target ($(du -sk "$target" | cut -f1) KiB)"
