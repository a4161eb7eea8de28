"""The XML namespaces the service reads and writes, each named once."""

#: The service's own target namespace (the WSDL's types and messages).
TNS = "urn:soap-usestats:1"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
#: The transport of both SOAP bindings, as WSDL 1.1 names SOAP over HTTP.
SOAP_HTTP = "http://schemas.xmlsoap.org/soap/http"
XSD = "http://www.w3.org/2001/XMLSchema"
XML = "http://www.w3.org/XML/1998/namespace"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
