<?php
// Call GetStats, GetScores or GetUsersStats (every page, following NEXTCURSOR) with PHP's
// SoapClient and print the figures read, as JSON.
//
// usage: php client.php WSDL_URL ENDPOINT_URL OPERATION [name=value ...]
// With NO_SOAPACTION=1 in the environment the request carries an empty SOAPAction
// (SoapClient always sends the header for SOAP 1.1).

// The fields read: a name, a list as [list, member, fields], or an element as [element, fields].
const DAYS = ['DAYS', 'DAY', ['DATE', 'SECONDS', 'FINAL']];
const USER = ['USERNAME', 'FROM', 'ELAPSED', 'SECONDS', 'EVENTS', 'FIRSTACCESS', 'LASTACCESS',
    'SESSIONCOUNT', 'FINALBEFORE', DAYS];
const COMPLETION = ['COMPLETION', ['STATUS', 'TIMEENROLLED', 'TIMESTARTED', 'TIMECOMPLETED']];
const GRADE = ['GRADE', ['SCORE', 'GRADEMIN', 'GRADEMAX', 'GRADED']];
const COURSES = ['COURSES', 'COURSE', ['SHORTNAME', 'ELAPSED', 'SECONDS', 'EVENTS', DAYS, COMPLETION, GRADE]];
const MODULES = ['MODULES', 'MODULE', ['ID', 'NAME', 'TYPE', 'IDNUMBER', 'ELAPSED', 'SECONDS', 'EVENTS']];
const SESSIONS = ['SESSIONS', 'SESSION', ['START', 'END', 'SECONDS']];
const SCORES = ['SCORE', 'GRADEMIN', 'GRADEMAX',
    ['ITEMS', 'ITEM', ['NAME', 'TYPE', 'IDNUMBER', 'SCORE', 'GRADEMAX']]];
// SoapClient gives an xs:dateTime as text (and an xs:date, printed as it comes).
const DATETIMES = ['FIRSTACCESS', 'LASTACCESS', 'FINALBEFORE', 'START', 'END', 'TIMEENROLLED',
    'TIMESTARTED', 'TIMECOMPLETED'];
// The xs:boolean parameters, passed as PHP booleans: SoapClient sends any non-empty
// string, 'false' too, as true.
const BOOLEANS = ['daily', 'sessions', 'completed'];

class EmptySoapActionClient extends SoapClient
{
    public function __doRequest($request, $location, $action, $version, $oneWay = false): ?string
    {
        return parent::__doRequest($request, $location, '', $version, $oneWay);
    }
}

// The named fields; xs:dateTime as Unix time, an absent field (an element too) as null, a
// list's entries (none when it is absent or empty).
function pick(object $value, array $names): array
{
    $fields = [];
    foreach ($names as $name) {
        if (is_string($name)) {
            $field = $value->$name ?? null;
            $fields[$name] = in_array($name, DATETIMES) && $field !== null ? strtotime($field) : $field;
        } elseif (count($name) === 2) {
            [$name, $inner] = $name;
            $fields[$name] = isset($value->$name) ? pick($value->$name, $inner) : null;
        } else {
            [$name, $member, $inner] = $name;
            $fields[$name] = array_map(fn ($entry) => pick($entry, $inner), $value->$name->$member ?? []);
        }
    }
    return $fields;
}

function stats(object $stats): array
{
    return ['USER' => pick($stats->USER, USER)] + pick($stats, [COURSES, MODULES, SESSIONS]);
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
    return ['USERNAME' => $scores->USER->USERNAME, 'COURSE' => $scores->COURSE->SHORTNAME]
        + pick($scores, SCORES);
}

[, $wsdl, $endpoint, $operation] = $argv;
$params = [];
foreach (array_slice($argv, 4) as $param) {
    [$name, $value] = explode('=', $param, 2);
    $params[$name] = in_array($name, BOOLEANS) ? filter_var($value, FILTER_VALIDATE_BOOLEAN) : $value;
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
