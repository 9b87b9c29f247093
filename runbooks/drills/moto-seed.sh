#!/usr/bin/env bash
# Seed a local AWS emulator (moto) with the incident a drill scenario describes.
#
#   python3 -m pip install 'moto[server]'
#   moto_server -H 127.0.0.1 -p 5000 &
#   runbooks/drills/moto-seed.sh s3|key|db [http://127.0.0.1:5000]
#   stanch drill --scenario runbooks/drills/<scenario>.toml
#
# moto's random ids are seeded (`/moto-api/seed`), so the ids the scenarios name (access key,
# security group, instance) are the same on every fresh moto. Run it against a fresh moto
# (`curl -X POST $URL/moto-api/reset` first if it has been used). Signature verification
# stays off, so the drill's AWS keys can be any value; `tests/aws_*.rs` test with it on.
set -euo pipefail
what="${1:?usage: moto-seed.sh s3|key|db [moto url]}"
url="${2:-http://127.0.0.1:5000}"

# moto routes an unsigned call by the service named in the credential scope.
auth() { printf 'Authorization: AWS4-HMAC-SHA256 Credential=AKIADRILLSEED/20260101/us-east-1/%s/aws4_request, SignedHeaders=host, Signature=0' "$1"; }
query() { local service="$1"; shift; curl -fsS -X POST "$url/" -H "$(auth "$service")" "$@"; }
s3() { local method="$1" path="$2"; shift 2; curl -fsS -X "$method" "$url$path" -H "$(auth s3)" "$@"; }
field() { sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p" | head -n1; }

curl -fsS -X POST "$url/moto-api/seed?a=15" >/dev/null
case "$what" in
  s3)
    s3 PUT /acme-exports -H 'x-amz-acl: public-read' >/dev/null
    for key in customers-2026-11.csv config/app.env exports/orders.csv exports/invoices.csv; do
      s3 PUT "/acme-exports/$key" -H 'x-amz-acl: public-read' --data-binary "synthetic $key" >/dev/null
    done
    echo "bucket acme-exports: public-read, 4 objects"
    ;;
  key)
    v='Version=2010-05-08'
    query iam -d "Action=CreateUser&UserName=ci-deployer&$v" >/dev/null
    key=$(query iam -d "Action=CreateAccessKey&UserName=ci-deployer&$v" | field AccessKeyId)
    echo "user ci-deployer, leaked key $key"
    ;;
  db)
    v='Version=2016-11-15'
    group=$(query ec2 -d "Action=CreateSecurityGroup&GroupName=mongo-prod&GroupDescription=mongo&$v" | field groupId)
    for rule in 'IpRanges.1.CidrIp=0.0.0.0/0' 'Ipv6Ranges.1.CidrIpv6=::/0' 'IpRanges.1.CidrIp=10.0.0.0/8'; do
      query ec2 --data-urlencode "IpPermissions.1.${rule%%=*}=${rule#*=}" \
        -d "Action=AuthorizeSecurityGroupIngress&GroupId=$group&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=27017&IpPermissions.1.ToPort=27017&$v" >/dev/null
    done
    instance=$(query ec2 -d "Action=RunInstances&ImageId=ami-12c6146b&MinCount=1&MaxCount=1&SecurityGroupId.1=$group&$v" | field instanceId)
    echo "security group $group (27017 open to 0.0.0.0/0 and ::/0), instance $instance"
    ;;
  *) echo "unknown drill $what (s3, key or db)" >&2; exit 2 ;;
esac
