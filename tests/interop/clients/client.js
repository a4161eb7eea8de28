// Call GetStats or GetScores with node-soap and print the figures read, as JSON.
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

function figures(operation, answer) {
  if (operation === 'GetStats') {
    const stats = answer.USE_STATS;
    return {
      USER: pick(stats.USER, USER),
      COURSES: members(stats, 'COURSES', 'COURSE').map((c) => pick(c, COURSE)),
      MODULES: members(stats, 'MODULES', 'MODULE').map((m) => pick(m, MODULE)),
    };
  }
  const scores = answer.USER_SCORES;
  return {
    USERNAME: scores.USER.USERNAME, COURSE: scores.COURSE.SHORTNAME,
    SCORE: scores.SCORE ?? null, GRADEMIN: scores.GRADEMIN ?? null, GRADEMAX: scores.GRADEMAX ?? null,
    ITEMS: members(scores, 'ITEMS', 'ITEM').map((i) => pick(i, ITEM)),
  };
}

async function main([wsdl, endpoint, operation, ...params]) {
  const options = { endpoint };
  if (process.env.NO_SOAPACTION) {
    options.httpClient = new NoSoapActionHttpClient();
  }
  const client = await soap.createClientAsync(wsdl, options);
  const args = Object.fromEntries(params.map((param) => param.split(/=(.*)/s, 2)));
  const [answer] = await client[`${operation}Async`](args);
  console.log(JSON.stringify(figures(operation, answer)));
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error.message);
  process.exit(1);
});
