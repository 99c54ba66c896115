#!/usr/bin/env node
// The HTTPS target of tests/clients.bats (Node.js, no npm packages): one TLS
// port that speaks HTTP/2 and HTTP/1.1 (ALPN), so a single target serves
// curl --http2, the browsers and every HTTP/1.1 client.
//
//   node webtarget.js --cert C --key K --port-file F --log L --git-root DIR
//
// Listens on 127.0.0.1 port 0 and writes the port to F.  Each request is
// appended to L as one line "<httpVersion> <method> <path>".  Paths:
//   /hello        "hello from webtarget <httpVersion>\n" (text/plain)
//   /             an HTML page that loads /app.js and /pixel.png
//   /app.js       sets the page's title and a #status element's text
//   /pixel.png    a 1x1 PNG
//   /git/...      git http-backend as a CGI (smart HTTP, repositories in
//                 --git-root, all exported)
// Anything else is a 404.
'use strict';
const fs = require('fs');
const http2 = require('http2');
const { spawn } = require('child_process');

function args() {
	const a = {};
	const v = process.argv.slice(2);
	for (let i = 0; i < v.length; i += 2)
		a[v[i].replace(/^--/, '')] = v[i + 1];
	return a;
}

const opt = args();
const PAGE = '<!doctype html><html><head><title>waiting</title>' +
	'<script src="/app.js"></script></head><body>' +
	'<p id="status">script not run</p>' +
	'<img id="px" src="/pixel.png" onload="pixelLoaded()"></body></html>\n';
const SCRIPT = 'var seen = 0;\n' +
	'function mark() { if (++seen === 2) { document.title = "connectd-ok";\n' +
	'  document.getElementById("status").textContent = "script and image loaded"; } }\n' +
	'function pixelLoaded() { mark(); }\n' +
	'document.addEventListener("DOMContentLoaded", mark);\n';
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ' +
	'DwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

function send(res, type, body) {
	res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body),
		'cache-control': 'no-store' });
	res.end(body);
}

// git http-backend as CGI: request body in, "headers\r\n\r\nbody" out
function git(req, res, path) {
	const q = req.url.indexOf('?');
	const env = Object.assign({}, process.env, {
		GIT_PROJECT_ROOT: opt['git-root'], GIT_HTTP_EXPORT_ALL: '1',
		PATH_INFO: path.slice('/git'.length), REQUEST_METHOD: req.method,
		QUERY_STRING: q < 0 ? '' : req.url.slice(q + 1),
		CONTENT_TYPE: req.headers['content-type'] || '',
		REMOTE_ADDR: '127.0.0.1', GATEWAY_INTERFACE: 'CGI/1.1',
	});
	if (req.headers['content-length'])
		env.CONTENT_LENGTH = req.headers['content-length'];
	if (req.headers['git-protocol'])
		env.GIT_PROTOCOL = req.headers['git-protocol'];
	const cgi = spawn('git', ['http-backend'], { env });
	req.pipe(cgi.stdin);
	let head = Buffer.alloc(0);
	let inBody = false;
	cgi.stdout.on('data', (d) => {
		if (inBody)
			return res.write(d);
		head = Buffer.concat([head, d]);
		let end = head.indexOf('\r\n\r\n');
		let sep = 4;
		if (end < 0) {
			end = head.indexOf('\n\n');
			sep = 2;
		}
		if (end < 0)
			return;
		let status = 200;
		const hdrs = {};
		for (const line of head.slice(0, end).toString().split(/\r?\n/)) {
			const i = line.indexOf(':');
			const k = line.slice(0, i).trim().toLowerCase();
			const v = line.slice(i + 1).trim();
			if (k === 'status')
				status = parseInt(v, 10);
			else
				hdrs[k] = v;
		}
		res.writeHead(status, hdrs);
		inBody = true;
		res.write(head.slice(end + sep));
	});
	cgi.stdout.on('end', () => res.end());
	cgi.stderr.on('data', (d) => process.stderr.write(d));
}

const server = http2.createSecureServer({
	cert: fs.readFileSync(opt.cert), key: fs.readFileSync(opt.key), allowHTTP1: true,
}, (req, res) => {
	const path = req.url.split('?')[0];
	fs.appendFileSync(opt.log, `${req.httpVersion} ${req.method} ${path}\n`);
	if (path === '/hello')
		send(res, 'text/plain', `hello from webtarget ${req.httpVersion}\n`);
	else if (path === '/')
		send(res, 'text/html', PAGE);
	else if (path === '/app.js')
		send(res, 'text/javascript', SCRIPT);
	else if (path === '/pixel.png')
		send(res, 'image/png', PNG);
	else if (path.startsWith('/git/') && opt['git-root'])
		git(req, res, path);
	else {
		res.writeHead(404, { 'content-type': 'text/plain' });
		res.end('not found\n');
	}
});
server.listen(0, '127.0.0.1', () => {
	fs.writeFileSync(opt['port-file'] + '.tmp', `${server.address().port}\n`);
	fs.renameSync(opt['port-file'] + '.tmp', opt['port-file']);
});
