// The peer baseline of bench/ingest.py: a Probot app that does nothing with a
// `pull_request` event. Probot verifies the signature, parses the body and emits the
// event; the handler only counts it, and the count is printed when the bench stops the
// server, so the bench can check that every delivery Probot acknowledged reached the app.
let received = 0;

export default (app) => {
  app.on("pull_request", async () => {
    received += 1;
  });
  process.once("SIGTERM", () => {
    process.stdout.write(`${JSON.stringify({ received })}\n`, () => process.exit(0));
  });
};
