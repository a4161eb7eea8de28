// Call GetStats, GetScores or GetUsersStats (every page, following NEXTCURSOR) with node-soap
// and print the figures read, as JSON.
//
// usage: node client.js WSDL_URL ENDPOINT_URL OPERATION [name=value ...]
// With NO_SOAPACTION=1 in the environment the request goes without a SOAPAction header.
'use strict';

const soap = require('soap');

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
// node-soap gives an xs:date, like an xs:dateTime, as a Date (at midnight UTC).
const DATES = ['DATE'];

class NoSoapActionHttpClient extends soap.HttpClient {
  request(url, data, callback, headers, options) {
    delete headers?.SOAPAction; // no headers: the WSDL's GET
    return super.request(url, data, callback, headers, options);
  }
}

// A value as node-soap types it: xs:dateTime as Unix time, xs:date as YYYY-MM-DD, absent as null.
function typed(name, value) {
  if (!(value instanceof Date)) {
    return value ?? null;
  }
  return DATES.includes(name) ? value.toISOString().slice(0, 10) : value.getTime() / 1000;
}

// The named fields; an element's, null when it is absent; a list's entries, none when it is
// absent or empty.
function pick(value, names) {
  return Object.fromEntries(names.map((name) => {
    if (!Array.isArray(name)) {
      return [name, typed(name, value[name])];
    }
    if (name.length === 2) {
      const [element, inner] = name;
      return [element, value[element] ? pick(value[element], inner) : null];
    }
    const [list, member, inner] = name;
    return [list, [value[list]?.[member] ?? []].flat().map((entry) => pick(entry, inner))];
  }));
}

function stats(one) {
  return { USER: pick(one.USER, USER), ...pick(one, [COURSES, MODULES, SESSIONS]) };
}

function figures(operation, answer) {
  if (operation === 'GetUsersStats') {
    return {
      PAGES: answer.length,
      USERS: answer.flatMap((page) => [page.USERS_STATS?.USE_STATS ?? []].flat().map(stats)),
    };
  }
  if (operation === 'GetStats') {
    return stats(answer.USE_STATS);
  }
  const scores = answer.USER_SCORES;
  return { USERNAME: scores.USER.USERNAME, COURSE: scores.COURSE.SHORTNAME, ...pick(scores, SCORES) };
}

// The answer; for GetUsersStats the list of every page.
async function call(client, operation, args) {
  if (operation !== 'GetUsersStats') {
    return (await client[`${operation}Async`](args))[0];
  }
  const pages = [(await client.GetUsersStatsAsync(args))[0]];
  while (pages.at(-1).USERS_STATS?.NEXTCURSOR) {
    pages.push((await client.GetUsersStatsAsync({ ...args, cursor: pages.at(-1).USERS_STATS.NEXTCURSOR }))[0]);
  }
  return pages;
}

async function main([wsdl, endpoint, operation, ...params]) {
  const options = { endpoint };
  if (process.env.NO_SOAPACTION) {
    options.httpClient = new NoSoapActionHttpClient();
  }
  const client = await soap.createClientAsync(wsdl, options);
  const args = Object.fromEntries(params.map((param) => param.split(/=(.*)/s, 2)));
  const answer = await call(client, operation, args);
  console.log(JSON.stringify(figures(operation, answer)));
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error.message);
  process.exit(1);
});
