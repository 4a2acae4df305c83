#!/bin/sh
# udhcpc event script for capture_dhcp_dns.sh: configure the leased address (so udhcpc -R can
# send its RELEASE from it); leave it in place on deconfig so the DNS queries can use it.
case "$1" in
  bound|renew) ip addr add "$ip/${mask:-24}" dev "$interface" 2>/dev/null ;;
esac
exit 0
