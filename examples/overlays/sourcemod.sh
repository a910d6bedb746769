#!/bin/bash
# A script overlay: MetaMod:Source and SourceMod for Left 4 Dead 2.
#
#   l4d2ctl overlay create sourcemod --kind script
#   l4d2ctl overlay script sourcemod set < examples/overlays/sourcemod.sh
#   l4d2ctl overlay build sourcemod
#
# It runs in the build sandbox: its working directory is /overlay, the
# overlay's new content (empty at the start), the only place it can write
# besides its private /tmp; it may use the network; it sees nothing of the
# host's state. Exiting non-zero (set -e: any failed command) keeps the
# overlay as it was. What it leaves in /overlay is what servers get, below
# the game's root: so the archives unpack into left4dead2/.
set -euo pipefail

# Pinned builds: change both the version and its checksum to upgrade.
MMS_VERSION=1.11.0-git1155
SM_VERSION=1.11.0-git6968

# The archives' sha256. AlliedModders publishes none, and the machine this
# example was written on could not download, so they are NOT filled in:
# download each archive once (the URLs below), check it as you see fit, and
# paste the output of `sha256sum FILE` here. Until then the build stops
# before downloading anything.
MMS_SHA256=FILL-IN-THE-SHA256-OF-mmsource-1.11.0-git1155-linux.tar.gz
SM_SHA256=FILL-IN-THE-SHA256-OF-sourcemod-1.11.0-git6968-linux.tar.gz

MMS_URL="https://mms.alliedmods.net/mmsdrop/1.11/mmsource-${MMS_VERSION}-linux.tar.gz"
SM_URL="https://sm.alliedmods.net/smdrop/1.11/sourcemod-${SM_VERSION}-linux.tar.gz"

for sum in "$MMS_SHA256" "$SM_SHA256"; do
    if ! [[ $sum =~ ^[0-9a-f]{64}$ ]]; then
        echo "error: the archives' sha256 are not filled in (MMS_SHA256, SM_SHA256 in this script)" >&2
        exit 1
    fi
done

# Downloads url to file and checks it against sha.
fetch() {
    local url=$1 sha=$2 file=$3
    echo "downloading $url"
    curl --fail --silent --show-error --location --retry 3 --max-time 600 -o "$file" "$url"
    echo "$sha  $file" | sha256sum --check --strict -
}

fetch "$MMS_URL" "$MMS_SHA256" /tmp/mmsource.tar.gz
fetch "$SM_URL" "$SM_SHA256" /tmp/sourcemod.tar.gz

mkdir -p left4dead2
# Both unpack as addons/ and cfg/ (SourceMod's) into the game folder.
tar --extract --gzip --file /tmp/mmsource.tar.gz --directory left4dead2 --no-same-owner
tar --extract --gzip --file /tmp/sourcemod.tar.gz --directory left4dead2 --no-same-owner

# Plugins that change every game are off until someone wants them: move
# them to plugins/disabled/, where SourceMod does not load them.
mkdir -p left4dead2/addons/sourcemod/plugins/disabled
for p in nextmap funcommands funvotes; do
    if [ -e "left4dead2/addons/sourcemod/plugins/$p.smx" ]; then
        mv "left4dead2/addons/sourcemod/plugins/$p.smx" left4dead2/addons/sourcemod/plugins/disabled/
    fi
done

# Both are there, or the build fails and the overlay keeps what it had.
test -d left4dead2/addons/metamod
test -d left4dead2/addons/sourcemod/plugins
echo "installed MetaMod:Source $MMS_VERSION and SourceMod $SM_VERSION"
