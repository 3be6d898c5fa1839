// Probot's lightest way to serve: its webhook middleware in a bare Node HTTP server, as
// Probot's documentation of createNodeMiddleware shows: no request log, no static pages.
// Settings come from the environment (createProbot); `GET /ping` tells the bench it is up.
import { createServer } from "node:http";
import { createNodeMiddleware, createProbot } from "probot";
import app from "./index.js";

const middleware = await createNodeMiddleware(app, { probot: createProbot() });
const server = createServer((request, response) => {
  if (request.method === "GET" && request.url === "/ping") {
    response.writeHead(200, { "content-type": "text/plain" }).end("PONG");
    return;
  }
  middleware(request, response, () => response.writeHead(404).end());
});
server.listen(Number(process.env.PORT), process.env.HOST);
