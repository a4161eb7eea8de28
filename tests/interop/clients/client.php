<?php
// Call GetStats, GetScores or GetUsersStats (every page, following NEXTCURSOR) with PHP's
// SoapClient and print the figures read, as JSON.
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

function stats(object $stats): array
{
    return [
        'USER' => pick($stats->USER, USER),
        'COURSES' => array_map(fn ($c) => pick($c, COURSE), members($stats, 'COURSES', 'COURSE')),
        'MODULES' => array_map(fn ($m) => pick($m, MODULE), members($stats, 'MODULES', 'MODULE')),
    ];
}

function figures(string $operation, object|array $answer): array
{
    if ($operation === 'GetUsersStats') {
        $users = [];
        foreach ($answer as $page) {
            foreach ($page->USERS_STATS->USE_STATS ?? [] as $one) {
                $users[] = stats($one);
            }
        }
        return ['PAGES' => count($answer), 'USERS' => $users];
    }
    if ($operation === 'GetStats') {
        return stats($answer->USE_STATS);
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
// The answer; for GetUsersStats the list of every page.
function call(SoapClient $client, string $operation, array $params): object|array
{
    if ($operation !== 'GetUsersStats') {
        return $client->$operation($params);
    }
    $pages = [$client->GetUsersStats($params)];
    while (isset(end($pages)->USERS_STATS->NEXTCURSOR)) {
        $pages[] = $client->GetUsersStats($params + ['cursor' => end($pages)->USERS_STATS->NEXTCURSOR]);
    }
    return $pages;
}

$answer = call($client, $operation, $params);
echo json_encode(figures($operation, $answer)), "\n";
