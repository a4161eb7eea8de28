#!/usr/bin/env bash
# Call GetStats or GetScores with curl and print the SOAP response.
#
# usage: curl.sh ENDPOINT_URL OPERATION [name=value ...]   (parameters in the WSDL's order)
# With NO_SOAPACTION=1 in the environment the request goes without a SOAPAction header.
set -euo pipefail

endpoint=$1 operation=$2
shift 2
params=""
for param in "$@"; do
  name=${param%%=*} value=${param#*=}
  value=${value//'&'/'&amp;'} value=${value//'<'/'&lt;'}
  params+="<u:$name>$value</u:$name>"
done
headers=(-H "Content-Type: text/xml; charset=utf-8")
[[ -n ${NO_SOAPACTION:-} ]] || headers+=(-H "SOAPAction: \"$operation\"")

curl --silent --show-error --fail-with-body "${headers[@]}" --data-binary @- "$endpoint" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="urn:soap-usestats:1">
  <soap:Body><u:$operation>$params</u:$operation></soap:Body>
</soap:Envelope>
XML
