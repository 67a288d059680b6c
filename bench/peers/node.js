// The baedal workload in Node: N concurrent orders as Promises, each
// delivered, then a meal on setTimeout, then eaten and collected; every
// step recorded. Meal of order i (1-based) of n: lo + (hi - lo) * (i - 1) / (n - 1)
// microseconds (integer division), as the server's GEN makes them.
//
// usage: node node.js N LO_US HI_US   ->  one JSON line on stdout
'use strict';
const { performance } = require('perf_hooks');

const [n, lo, hi] = process.argv.slice(2, 5).map(Number);
const mealUs = (i) => (n === 1 ? lo : lo + Math.floor(((hi - lo) * (i - 1)) / (n - 1)));
const ev = new Float64Array(3 * n);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function order(i, mealMs) {
	ev[3 * i] = performance.now();          // delivered
	await sleep(mealMs);
	ev[3 * i + 1] = performance.now();      // eaten
	ev[3 * i + 2] = performance.now();      // collected
}

async function main() {
	const meals = new Float64Array(n);
	for (let i = 0; i < n; i++) meals[i] = mealUs(i + 1) / 1000;
	const t0 = performance.now();
	const all = new Array(n);
	for (let i = 0; i < n; i++) all[i] = order(i, meals[i]);
	await Promise.all(all);
	let last = 0;
	const late = new Float64Array(n);
	for (let i = 0; i < n; i++) {
		last = Math.max(last, ev[3 * i + 2]);
		late[i] = ev[3 * i + 2] - t0 - meals[i];
	}
	late.sort();
	console.log(JSON.stringify({ peer: 'node', n, makespan_s: (last - t0) / 1000,
		p99_late_ms: late[Math.round(0.99 * (n - 1))] }));
}

main();
