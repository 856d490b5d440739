// Starts the API's documentation viewer (Swagger UI at /docs, ReDoc at /redoc) on the element
// that names it, with the OpenAPI document's address from its data- attribute: the pages'
// policy allows no inline script.
document.addEventListener("DOMContentLoaded", function () {
  var swagger = document.querySelector("[data-api-docs='swagger-ui']");
  if (swagger) {
    window.ui = SwaggerUIBundle({
      url: swagger.dataset.openapiUrl,
      domNode: swagger,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      // A pasted bearer token stays in this tab's memory, never in the browser's storage.
      persistAuthorization: false,
      // No badge from the public validator: the document is never sent anywhere.
      validatorUrl: null
    });
  }
  var redoc = document.querySelector("[data-api-docs='redoc']");
  if (redoc) {
    Redoc.init(redoc.dataset.openapiUrl, {}, redoc);
  }
});
