// Starts Swagger UI on /docs. The OpenAPI document's URL comes from the page
// (data-openapi-url), so the page has no inline script.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null, // never ask an online validator
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
