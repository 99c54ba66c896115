#!/usr/bin/env node
// undici's ProxyAgent for tests/clients.bats: fetches argv[2] through the
// proxy URL argv[3], trusting only the CA in argv[4] (certificate
// verification on); prints the status and the body.  undici comes from
// build-clients/node_modules (make build-clients), found through NODE_PATH.
'use strict';
const fs = require('fs');
const { ProxyAgent, request } = require('undici');

async function main() {
	const [url, proxy, ca] = process.argv.slice(2);
	const agent = new ProxyAgent({
		uri: proxy,
		requestTls: { ca: fs.readFileSync(ca) },
	});
	const res = await request(url, { dispatcher: agent });
	const body = await res.body.text();
	process.stdout.write(`${res.statusCode}\n${body}`);
	await agent.close();
}
main().catch((e) => {
	console.error(e);
	process.exit(1);
});
