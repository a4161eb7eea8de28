<?php
// Call GetStats or GetScores with PHP's SoapClient and print the figures read, as JSON.
//
// usage: php client.php WSDL_URL ENDPOINT_URL OPERATION [name=value ...]
// With NO_SOAPACTION=1 in the environment the request carries an empty SOAPAction
// (SoapClient always sends the header for SOAP 1.1).

const USER = ['USERNAME', 'FROM', 'ELAPSED', 'SECONDS', 'EVENTS', 'FIRSTACCESS', 'LASTACCESS'];
const COURSE = ['SHORTNAME', 'ELAPSED', 'SECONDS', 'EVENTS'];
const MODULE = ['ID', 'NAME', 'TYPE', 'IDNUMBER', 'ELAPSED', 'SECONDS', 'EVENTS'];
const ITEM = ['NAME', 'TYPE', 'IDNUMBER', 'SCORE', 'GRADEMAX'];

class EmptySoapActionClient extends SoapClient
{
    public function __doRequest($request, $location, $action, $version, $oneWay = false): ?string
    {
        return parent::__doRequest($request, $location, '', $version, $oneWay);
    }
}

// The named fields; xs:dateTime as Unix time, an absent field as null.
function pick(object $value, array $names): array
{
    $fields = [];
    foreach ($names as $name) {
        $field = $value->$name ?? null;
        $fields[$name] = in_array($name, ['FIRSTACCESS', 'LASTACCESS']) && $field !== null
            ? strtotime($field) : $field;
    }
    return $fields;
}

// The entries of a list element; an absent or empty list gives none.
function members(object $answer, string $name, string $member): array
{
    return $answer->$name->$member ?? [];
}

function figures(string $operation, object $answer): array
{
    if ($operation === 'GetStats') {
        $stats = $answer->USE_STATS;
        return [
            'USER' => pick($stats->USER, USER),
            'COURSES' => array_map(fn ($c) => pick($c, COURSE), members($stats, 'COURSES', 'COURSE')),
            'MODULES' => array_map(fn ($m) => pick($m, MODULE), members($stats, 'MODULES', 'MODULE')),
        ];
    }
    $scores = $answer->USER_SCORES;
    return [
        'USERNAME' => $scores->USER->USERNAME, 'COURSE' => $scores->COURSE->SHORTNAME,
        'SCORE' => $scores->SCORE ?? null, 'GRADEMIN' => $scores->GRADEMIN ?? null,
        'GRADEMAX' => $scores->GRADEMAX ?? null,
        'ITEMS' => array_map(fn ($i) => pick($i, ITEM), members($scores, 'ITEMS', 'ITEM')),
    ];
}

[, $wsdl, $endpoint, $operation] = $argv;
$params = [];
foreach (array_slice($argv, 4) as $param) {
    [$name, $value] = explode('=', $param, 2);
    $params[$name] = $value;
}
$class = getenv('NO_SOAPACTION') ? EmptySoapActionClient::class : SoapClient::class;
$client = new $class($wsdl, [
    'location' => $endpoint,
    'cache_wsdl' => WSDL_CACHE_NONE,
    'features' => SOAP_SINGLE_ELEMENT_ARRAYS,
]);
$answer = $client->$operation($params);
echo json_encode(figures($operation, $answer)), "\n";
