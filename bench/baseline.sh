#!/bin/bash
# The baseline: the EC2 User Data script an operator writes today without
# nodeagent, with the AWS CLI (Debian's awscli) and the usual shell tools,
# doing the same steps as nodeagent's boot, one after the other as User Data
# runs them. bench/bench.py runs it inside the same sandbox, against the same
# fake and latency profile as the agent.
#
# Environment: VOLUME_ID MOUNT_POINT ENI_ID ZONE_ID RECORD_NAME [WAIT_IN_SYNC=yes]
# [FIRST_BOOT=yes: a blank volume, formatted when blkid finds nothing on it]
# (ENI_ID empty: no interface; the record gets the instance's own address)
# and, to reach the fake instead of AWS, AWS_EC2_METADATA_SERVICE_ENDPOINT and
# AWS_ENDPOINT_URL (this awscli, 2.9, predates AWS_ENDPOINT_URL: it goes to
# --endpoint-url). Credentials: the instance role, from IMDS, as on EC2.
# Each step prints "<epoch> step NAME" on stderr for the bench's timeline.
set -euo pipefail

: "${VOLUME_ID:?}" "${MOUNT_POINT:?}" "${ENI_ID?}" "${ZONE_ID:?}" "${RECORD_NAME:?}"
IMDS=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254/}
IMDS=${IMDS%/}
ENDPOINT=${AWS_ENDPOINT_URL:-}

step() { echo "$(date +%s.%N) step $*" >&2; }

TOKEN=$(curl -sf -X PUT "$IMDS/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
md() { curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/$1"; }
INSTANCE_ID=$(md instance-id)
REGION=$(md placement/region)
aws() { /usr/bin/aws ${ENDPOINT:+--endpoint-url "$ENDPOINT"} --region "$REGION" --output text "$@"; }

# -- the volume ----------------------------------------------------------------
step attach-volume
aws ec2 attach-volume --volume-id "$VOLUME_ID" --instance-id "$INSTANCE_ID" --device /dev/sdf >/dev/null
step wait-volume-in-use
# The waiter polls DescribeVolumes every 15 s (botocore's ec2 waiter model).
aws ec2 wait volume-in-use --volume-ids "$VOLUME_ID" --filters Name=attachment.status,Values=attached
step wait-device
serial=${VOLUME_ID/-/}
until dev=$(lsblk -dnpo NAME,SERIAL | awk -v s="$serial" '$2 == s {print $1}') && [ -n "$dev" ]; do
        sleep 1
done
if [ "${FIRST_BOOT:-no}" = yes ]; then
        # The usual first-boot guard: format only what blkid finds nothing on.
        step mkfs
        if blkid -p "$dev" >/dev/null; then
                echo "$dev is not blank" >&2
                exit 1
        fi
        mkfs.ext4 -q "$dev"
else
        step fsck
        rc=0
        e2fsck -p "$dev" >&2 || rc=$?
        [ "$rc" -le 1 ]
fi
step mount
mkdir -p "$MOUNT_POINT"
mount "$dev" "$MOUNT_POINT"

# -- the network interface -------------------------------------------------------
if [ -n "$ENI_ID" ]; then
        step attach-network-interface
        aws ec2 attach-network-interface --network-interface-id "$ENI_ID" --instance-id "$INSTANCE_ID" \
                --device-index 1 >/dev/null
        read -r MAC IP < <(aws ec2 describe-network-interfaces --network-interface-ids "$ENI_ID" \
                --query 'NetworkInterfaces[0].[MacAddress,PrivateIpAddress]')
        step wait-link
        IFACE=
        until [ -n "$IFACE" ]; do
                for d in /sys/class/net/*; do
                        [ "$(cat "$d/address")" = "$MAC" ] && IFACE=${d##*/}
                done
                [ -n "$IFACE" ] || sleep 1
        done
        step routing
        CIDR=$(md "network/interfaces/macs/$MAC/subnet-ipv4-cidr-block")
        IFS=./ read -r a b c d prefix <<<"$CIDR"
        GATEWAY="$a.$b.$c.$((d + 1))"
        ip link set "$IFACE" up
        ip addr add "$IP/$prefix" dev "$IFACE"
        ip route add "$CIDR" dev "$IFACE" src "$IP" table 10001
        ip route add default via "$GATEWAY" dev "$IFACE" table 10001
        ip rule add from "$IP" table 10001 priority 10001
else
        IP=$(md local-ipv4)
fi

# -- DNS ----------------------------------------------------------------------------
step route53
CHANGE=$(aws route53 change-resource-record-sets --hosted-zone-id "$ZONE_ID" --query ChangeInfo.Id \
        --change-batch "{\"Changes\": [{\"Action\": \"UPSERT\", \"ResourceRecordSet\": {\"Name\": \"$RECORD_NAME\",
                \"Type\": \"A\", \"TTL\": 60, \"ResourceRecords\": [{\"Value\": \"$IP\"}]}}]}")
if [ "${WAIT_IN_SYNC:-no}" = yes ]; then
        step wait-insync
        # The waiter polls GetChange every 30 s.
        aws route53 wait resource-record-sets-changed --id "$CHANGE"
fi
step done
