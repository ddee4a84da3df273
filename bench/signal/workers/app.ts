// Bench worker: the smallest program that becomes a signal client by its one import; exits on SHUTDOWN.
import '../../../src/signal/auto.js';

setInterval(() => {}, 1000);
