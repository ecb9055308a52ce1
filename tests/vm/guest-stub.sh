#!/bin/sh
# /netdrop-init in a guest image: hand over to the checkout's tests/vm/guest-init.sh on the second disk, so that
# changing the guest's steps never needs a rebuilt image.
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /src
mount -o ro /dev/vdb /src
exec sh /src/tests/vm/guest-init.sh
