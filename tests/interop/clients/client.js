// Call GetStats, GetScores or GetUsersStats (every page, following NEXTCURSOR) with node-soap
// and print the figures read, as JSON.
//
// usage: node client.js WSDL_URL ENDPOINT_URL OPERATION [name=value ...]
// With NO_SOAPACTION=1 in the environment the request goes without a SOAPAction header.
'use strict';

const soap = require('soap');

const USER = ['USERNAME', 'FROM', 'ELAPSED', 'SECONDS', 'EVENTS', 'FIRSTACCESS', 'LASTACCESS'];
const COURSE = ['SHORTNAME', 'ELAPSED', 'SECONDS', 'EVENTS'];
const MODULE = ['ID', 'NAME', 'TYPE', 'IDNUMBER', 'ELAPSED', 'SECONDS', 'EVENTS'];
const ITEM = ['NAME', 'TYPE', 'IDNUMBER', 'SCORE', 'GRADEMAX'];

class NoSoapActionHttpClient extends soap.HttpClient {
  request(url, data, callback, headers, options) {
    delete headers?.SOAPAction; // no headers: the WSDL's GET
    return super.request(url, data, callback, headers, options);
  }
}

// The named fields; xs:dateTime as Unix time, an absent field as null.
function pick(value, names) {
  return Object.fromEntries(names.map((name) => {
    const field = value[name] ?? null;
    return [name, field instanceof Date ? field.getTime() / 1000 : field];
  }));
}

// The entries of a list element; an absent or empty list gives none.
function members(answer, name, member) {
  return [answer[name]?.[member] ?? []].flat();
}

function stats(one) {
  return {
    USER: pick(one.USER, USER),
    COURSES: members(one, 'COURSES', 'COURSE').map((c) => pick(c, COURSE)),
    MODULES: members(one, 'MODULES', 'MODULE').map((m) => pick(m, MODULE)),
  };
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
  return {
    USERNAME: scores.USER.USERNAME, COURSE: scores.COURSE.SHORTNAME,
    SCORE: scores.SCORE ?? null, GRADEMIN: scores.GRADEMIN ?? null, GRADEMAX: scores.GRADEMAX ?? null,
    ITEMS: members(scores, 'ITEMS', 'ITEM').map((i) => pick(i, ITEM)),
  };
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
