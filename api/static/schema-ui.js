/* The OpenAPI page (/schema): starts Swagger UI on the schema URL the page names. A file of its own
 * because the page's CSP runs no inline script; the online validator is off (nothing leaves the origin). */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
