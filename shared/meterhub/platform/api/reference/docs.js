// Starts Swagger UI on the document this API serves (a file, not an inline script: the page's CSP allows scripts
// from this origin only). The document names no server, its paths are the API's own; "Try it out" must call
// the API where this page is, stage prefix included (/dev/docs -> /dev), so the page sets the server here.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var base = new URL(".", window.location.href).href.replace(/\/$/, "");
  fetch(base + "/openapi.json", { headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("GET openapi.json answered " + response.status);
      }
      return response.json();
    })
    .then(function (spec) {
      spec.servers = [{ url: base, description: "This API" }];
      window.ui = SwaggerUIBundle({
        spec: spec,
        domNode: root,
        deepLinking: true,
        docExpansion: "list",
        // Offline and private: no call to the public validator, and the API key is never kept in storage.
        validatorUrl: null,
        persistAuthorization: false,
        tryItOutEnabled: false,
      });
    })
    .catch(function (problem) {
      root.textContent = "The API document could not be loaded: " + problem.message;
    });
})();
